from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from django_levelchat.models import Room


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The rooms a signed-in user can see, newest first, with their status."""
    rooms = Room.objects.exclude(status=Room.Status.ARCHIVED)
    return render(request, "demo/home.html", {"rooms": rooms})


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
