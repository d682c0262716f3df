"""`manage.py pacs_receiver --port 11112 --ae-title PLEURA`: the DICOM C-STORE receiver as its own process."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from pacs.receiver import ReceiverConfig, receiver_start
from pacs.selectors import receiver_callers


class Command(BaseCommand):
    help = "Receive ultrasound instances by C-STORE from the calling AE titles of the DICOMweb endpoints."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=11112)
        parser.add_argument("--ae-title", default="PLEURA")
        parser.add_argument("--host", default="0.0.0.0")
        parser.add_argument("--spool", type=Path, default=None, help="default: PLEURA_PACS_SPOOL")

    def handle(self, *args: object, **options: object) -> None:
        callers = receiver_callers()
        if not callers:
            raise CommandError("no DICOMweb endpoint has a calling AE title: nobody could push")
        config = ReceiverConfig(ae_title=str(options["ae_title"]), port=int(options["port"]),  # type: ignore[call-overload]
                                spool=options["spool"] or settings.PLEURA_PACS_SPOOL,  # type: ignore[arg-type]
                                endpoints=callers, host=str(options["host"]))
        self.stdout.write(f"C-STORE receiver {config.ae_title} on {config.host}:{config.port}, "
                          f"accepting {', '.join(sorted(callers))}", ending="\n")
        self.stdout.flush()
        receiver_start(config, block=True)
