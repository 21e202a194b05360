"""Provisioning a clinic's card: the technician's settings in, the secrets generated on the Pi.

Two halves of one contract, so they can never disagree on the file between them:

- ``appliance provision write TARGET`` on the technician's laptop asks for (or takes) the site's
  settings, refuses bad input with a French message naming the field, and writes them as
  ``appliance-provision.toml`` on the card's boot partition: a mounted directory, or the ``.img`` file
  itself (mtools writes into its FAT partition without mounting anything).
- ``appliance provision apply`` runs once at first boot (appliance-firstboot.service, as root): it
  moves the settings into /etc/appliance (secrets 0600), generates the secret key and the first
  admin password, writes the one-time installation sheet, then erases the file from the boot
  partition. Every step can be re-run after a power cut; the file is erased last.
- ``appliance provision sheet`` shows that sheet once (over SSH as the technician, keys only, through
  sudo) and deletes it.

The image itself holds no secret.

The parts: ``model`` (the settings and their checks), ``card`` (writing them onto the card),
``first_boot`` (applying them), ``sheet`` (the installation sheet), ``ownership`` (files for the
service user), ``cli`` (the commands).
"""
