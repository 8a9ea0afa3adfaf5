from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView, TemplateView

from example_project.demo import views

urlpatterns = [
    path("", views.home, name="home"),
    path("rooms/new/", views.room_create, name="room-create"),
    path("recordings/", views.recordings, name="recordings"),
    # Browsers ask for /favicon.ico on pages without a <link rel="icon"> (the admin, the API docs).
    path("favicon.ico", RedirectView.as_view(url=static("demo/favicon.svg"), permanent=True)),
    path("rooms/<str:public_id>/", views.room, name="room"),
    path("live/<str:public_id>/", views.live, name="live"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("levelchat/", include("django_levelchat.urls")),  # REST API: /levelchat/v1/rooms, /levelchat/v1/docs
    # A bare page that loads the browser SDK and nothing else: the SDK's browser tests and benchmark drive it.
    path("sdk-test/", TemplateView.as_view(template_name="demo/sdk_test.html"), name="sdk-test"),
]
