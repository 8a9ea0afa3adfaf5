from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from django_levelchat.models import Room


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The rooms a signed-in user can see, newest first, with their status."""
    rooms = Room.objects.exclude(status=Room.Status.ARCHIVED)
    return render(request, "demo/home.html", {"rooms": rooms})
