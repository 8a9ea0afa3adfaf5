from django.apps import AppConfig


class LevelChatConfig(AppConfig):
    name = "django_levelchat"
    verbose_name = "LevelChat"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django_levelchat import checks  # noqa: F401  (registers the system checks)
        from django_levelchat.signaling import receivers, transport

        receivers.connect()
        transport.fail_with_close_frame()
