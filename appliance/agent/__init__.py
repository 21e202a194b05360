"""The long-running ``appliance agent``: battery, modem and scheduled store-and-forward windows."""
