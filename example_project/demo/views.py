from django import forms
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from django_levelchat.models import Recording, RecordingFile, Room
from django_levelchat.signaling import control


class RoomForm(forms.ModelForm):
    """What a staff member needs to open a room: a name and what kind of call it is."""

    room_type = forms.ChoiceField(
        label="Type",
        choices=[(t.value, t.label) for t in (Room.RoomType.MEETING, Room.RoomType.LIVE, Room.RoomType.WEBINAR)],
    )

    class Meta:
        model = Room
        fields = ["name", "room_type"]
        widgets = {"name": forms.TextInput(attrs={"placeholder": "Weekly standup", "autocomplete": "off"})}


def _hue(identity: str) -> int:
    return sum(ord(c) * 97 for c in identity) % 360


def _people(room: Room) -> list[dict[str, object]]:
    """Who is in the call now, from live presence (not the database history)."""
    if room.status != Room.Status.ACTIVE:
        return []
    return [
        {
            "name": p["name"] or p["identity"],
            "initial": (p["name"] or p["identity"])[:1].upper(),
            "hue": _hue(p["identity"]),
        }
        for p in control.live_roster(room)
    ]


@login_required
def home(request: HttpRequest, form: RoomForm | None = None) -> HttpResponse:
    """The rooms a signed-in user can see, newest first, with who is in each now; staff also get a "new room" form."""
    rooms = Room.objects.exclude(status=Room.Status.ARCHIVED)[:50]
    if form is None and request.user.is_staff:
        form = RoomForm()
    return render(
        request, "demo/home.html", {"rooms": [{"room": r, "people": _people(r)} for r in rooms], "form": form}
    )


@staff_member_required
@require_POST
def room_create(request: HttpRequest) -> HttpResponse:
    form = RoomForm(request.POST)
    if not form.is_valid():
        return home(request, form)
    form.save()
    return redirect("home")


@staff_member_required
def recordings(request: HttpRequest) -> HttpResponse:
    """Every room's recordings, newest first, with a player for the composed file (served by the authorised,
    range-capable download view of the REST API; staff sessions may use it)."""
    composed = RecordingFile.objects.filter(role=RecordingFile.Role.COMPOSED)
    rows = Recording.objects.select_related("room").prefetch_related(Prefetch("files", composed, "composed_files"))
    recordings = list(rows[:200])
    for rec in recordings:
        rec.composed_file = rec.composed_files[0] if rec.composed_files else None
    return render(request, "demo/recordings.html", {"recordings": recordings})


def room(request: HttpRequest, public_id: str) -> HttpResponse:
    """A product page that embeds a call: the template tag does the rest (anonymous users see a sign-in card)."""
    return render(request, "demo/room.html", {"room": get_object_or_404(Room, public_id=public_id)})


def live(request: HttpRequest, public_id: str) -> HttpResponse:
    """A live stream: staff broadcast, everyone else watches (``joinLive``); staff can pick ``?role=viewer``."""
    room_obj = get_object_or_404(Room, public_id=public_id)
    wants = request.GET.get("role")
    staff = request.user.is_authenticated and request.user.is_staff
    role = "broadcaster" if staff and wants != "viewer" else "viewer"
    return render(request, "demo/live.html", {"room": room_obj, "role": role})
