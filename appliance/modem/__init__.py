"""The 3G USB modem: hotplug through udev, ModemManager (mmcli -J), monthly data counters."""
