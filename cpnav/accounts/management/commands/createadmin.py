from __future__ import annotations

import getpass
import sys
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandParser
from django.core.validators import validate_email

from cpnav.accounts.models import User
from cpnav.audit.services import record


class Command(BaseCommand):
    help = "Create a system administrator. They enrol an authenticator at first sign-in."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", required=True)
        parser.add_argument("--name", required=True)
        parser.add_argument(
            "--password-stdin", action="store_true", help="read the password from standard input"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        email = options["email"].strip().lower()
        try:
            validate_email(email)
        except ValidationError:
            self._fail(f"--email: {email!r} is not a valid email address")
        if User.objects.filter(email=email).exists():
            self._fail(f"--email: an account for {email} already exists")
        if options["password_stdin"]:
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = getpass.getpass("Password: ")
            if getpass.getpass("Password again: ") != password:
                self._fail("the passwords do not match")
        try:
            validate_password(password, User(email=email, full_name=options["name"]))
        except ValidationError as error:
            self._fail("password: " + " ".join(error.messages))
        user = User.objects.create_superuser(email, password, full_name=options["name"])
        record("account.created", actor_label="cpnav createadmin", object_type="user",
               object_id=user.pk, details={"system_admin": True})  # fmt: skip
        self.stdout.write(f"created system administrator {email}")

    def _fail(self, message: str) -> None:
        self.stderr.write(message)
        sys.exit(2)
