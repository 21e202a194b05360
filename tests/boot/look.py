"""``make boot``: the built image, provisioned for a test clinic, booted in the emulated Pi for a person
to look around. The serial console is on this terminal (Ctrl-A X stops the machine); the EMR and the
technician's SSH are forwarded to loopback ports printed before the boot.

The image is the one ``make image`` left in its work folder (APPLIANCE_IMAGE_WORK, /var/tmp/appliance-image).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from tests.boot.machine import SITE, Machine, provision_card

IMAGE = Path(os.environ.get("APPLIANCE_IMAGE_WORK", "/var/tmp/appliance-image")) / "clinic-appliance.img"
WORK = Path(os.environ.get("APPLIANCE_BOOT_WORK", "/var/tmp/appliance-boot"))


def main() -> int:
    image = Path(sys.argv[1]) if len(sys.argv) > 1 else IMAGE
    if not image.exists():
        print(f"Pas d'image {image} : lancez d'abord « make image ».", file=sys.stderr)
        return 1
    card, key = provision_card(image, WORK)
    machine = Machine(card=card, folder=WORK / "machine", ssh_key=key, terminal=True)
    print(f"Carte : {card} (copie de {image}, mise en service pour le site {SITE['--site-id']})")
    print(f"Dossier médical : http://127.0.0.1:{machine.http_port}/  (prêt au bout d'une à deux minutes)")
    print(f"SSH : ssh -i {key} -p {machine.ssh_port} -o StrictHostKeyChecking=no technicien@127.0.0.1")
    print("Fiche d'installation (mot de passe admin) : la commande SSH ci-dessus suivie de "
          "« sudo appliance provision sheet ».")
    print("Console série ci-dessous ; Ctrl-A puis X arrête la machine.\n", flush=True)
    machine.start()
    return machine.process.wait()


if __name__ == "__main__":
    sys.exit(main())
