"""Field updates through RAUC: signed bundles checked before anything is written, two channels
(a full system bundle from a USB stick, an application bundle over 3G), a trial after each update
and the previous version back by itself when the box is not healthy (docs/technician.md)."""
