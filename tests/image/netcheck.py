"""Network checks shared by the fast tests (rendered role templates) and the slow ones (the built tree).

The firewall and dnsmasq are exercised for real: two network namespaces made by the test, joined by veth
pairs named like the Pi's hotspot (wlan0) and 3G modem (wwan0) interfaces. Loopback-only traffic
between the test's own namespaces; everything is torn down afterwards.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import jinja2
import yaml

REPO = Path(__file__).resolve().parents[2]
ANSIBLE = REPO / "ansible"
BOX_HOTSPOT, BOX_MODEM = "10.42.0.1", "10.77.0.1"


def role_variables(role: str) -> dict:
    values = yaml.safe_load((ANSIBLE / "group_vars/all.yml").read_text())
    values.update(yaml.safe_load((ANSIBLE / "roles" / role / "defaults/main.yml").read_text()) or {})
    return values


def render(role: str, template: str, target: Path) -> Path:
    """A role's template rendered with its defaults and the group variables, as Ansible would."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(ANSIBLE / "roles" / role / "templates"),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    target.write_text(env.get_template(template).render(**role_variables(role)))
    return target


def nft_check(ruleset: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["nft", "-c", "-f", str(ruleset)], capture_output=True, text=True)


@contextlib.contextmanager
def clinic_and_modem_namespaces(ruleset: Path) -> Iterator[tuple[str, str]]:
    """The box (ruleset loaded) joined to a peer by a hotspot-named and a modem-named veth pair."""
    suffix = f"{os.getpid()}-{time.monotonic_ns() % 100000}"
    box, peer = f"appl-box-{suffix}", f"appl-peer-{suffix}"
    commands = [
        ["ip", "netns", "add", box], ["ip", "netns", "add", peer],
        ["ip", "link", "add", "veth-wl", "netns", box, "type", "veth", "peer", "name", "pw-wl", "netns", peer],
        ["ip", "link", "add", "veth-ww", "netns", box, "type", "veth", "peer", "name", "pw-ww", "netns", peer],
        ["ip", "-n", box, "link", "set", "veth-wl", "name", "wlan0"],
        ["ip", "-n", box, "link", "set", "veth-ww", "name", "wwan0"],
        ["ip", "-n", box, "addr", "add", f"{BOX_HOTSPOT}/24", "dev", "wlan0"],
        ["ip", "-n", box, "addr", "add", f"{BOX_MODEM}/24", "dev", "wwan0"],
        ["ip", "-n", peer, "addr", "add", "10.42.0.2/24", "dev", "pw-wl"],
        ["ip", "-n", peer, "addr", "add", "10.77.0.2/24", "dev", "pw-ww"],
    ]
    try:
        for command in commands:
            subprocess.run(command, check=True, capture_output=True)
        for namespace, links in ((box, ["lo", "wlan0", "wwan0"]), (peer, ["lo", "pw-wl", "pw-ww"])):
            for link in links:
                subprocess.run(["ip", "-n", namespace, "link", "set", link, "up"], check=True)
        subprocess.run(["ip", "netns", "exec", box, "nft", "-f", str(ruleset)], check=True)
        yield box, peer
    finally:
        subprocess.run(["ip", "netns", "del", box], capture_output=True)
        subprocess.run(["ip", "netns", "del", peer], capture_output=True)


_PROBE = """
import socket, sys
sock = socket.socket(); sock.settimeout(1.0)
try:
    sock.connect((sys.argv[1], int(sys.argv[2]))); sock.sendall(b"GET / HTTP/1.0\\r\\n\\r\\n")
    print("open" if sock.recv(12).startswith(b"HTTP/") else "odd")
except OSError:
    print("closed")
"""


def firewall_reachability(ruleset: Path) -> tuple[dict[tuple[str, int], str], int]:
    """What the peer reaches on the box (HTTP servers on 8080 and 22), and the modem drop counter."""
    with clinic_and_modem_namespaces(ruleset) as (box, peer):
        servers = [subprocess.Popen(["ip", "netns", "exec", box, sys.executable, "-m", "http.server", port,
                                     "--bind", "0.0.0.0"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                   for port in ("8080", "22")]
        try:
            def probe(address: str, port: int) -> str:
                deadline = time.monotonic() + 10  # the servers need a moment to listen
                while True:
                    answer = subprocess.run(["ip", "netns", "exec", peer, sys.executable, "-c", _PROBE, address,
                                             str(port)], capture_output=True, text=True).stdout.strip()
                    if answer == "open" or address == BOX_MODEM or time.monotonic() > deadline:
                        return answer
                    time.sleep(0.3)

            results = {(address, port): probe(address, port)
                       for address in (BOX_HOTSPOT, BOX_MODEM) for port in (8080, 80, 22)}
            counters = subprocess.run(["ip", "netns", "exec", box, "nft", "list", "chain", "inet", "appliance",
                                       "input"], capture_output=True, text=True).stdout
            dropped = re.search(r'"wwan\*".*counter packets (\d+)', counters)
            return results, int(dropped.group(1)) if dropped else 0
        finally:
            for server in servers:
                server.terminate()
                server.wait(timeout=10)


def dnsmasq_test(conf: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["dnsmasq", "--test", f"--conf-file={conf}"], capture_output=True, text=True)


def _dns_query(name: str) -> bytes:
    header = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
    question = b"".join(bytes([len(part)]) + part.encode() for part in name.split(".")) + b"\x00\x00\x01\x00\x01"
    return header + question


_DNS_CLIENT = (
    "import socket,sys,time\n"
    "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.settimeout(1)\n"
    "for _ in range(int(sys.argv[3])):\n"
    "  s.sendto(bytes.fromhex(sys.argv[1]),(sys.argv[2],53))\n"
    "  try: print(s.recv(512).hex()); break\n"
    "  except OSError: time.sleep(0.3)\n"
)


def dnsmasq_answers(conf: Path, ruleset: Path, scratch: Path, name: str) -> dict[str, bytes]:
    """dnsmasq with the role's config in the box; the DNS replies for ``name`` via hotspot and modem."""
    local = scratch / "dnsmasq.conf"
    local.write_text(conf.read_text().replace("/run/dnsmasq/", f"{scratch}/"))
    with clinic_and_modem_namespaces(ruleset) as (box, peer):
        server = subprocess.Popen(["ip", "netns", "exec", box, "dnsmasq", "--keep-in-foreground",
                                   f"--conf-file={local}", f"--pid-file={scratch}/dnsmasq.pid", "--user=root"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            replies = {}
            for address in (BOX_HOTSPOT, BOX_MODEM):
                # The hotspot side retries while dnsmasq starts; a silent modem side is asked twice.
                tries = "10" if address == BOX_HOTSPOT else "2"
                out = subprocess.run(["ip", "netns", "exec", peer, sys.executable, "-c", _DNS_CLIENT,
                                      _dns_query(name).hex(), address, tries], capture_output=True, text=True,
                                     timeout=30).stdout.strip()
                replies[address] = bytes.fromhex(out) if out else b""
            return replies
        finally:
            server.terminate()
            server.wait(timeout=10)


def answered_address(reply: bytes) -> str | None:
    """The IPv4 address at the end of a one-answer A reply, or None."""
    if len(reply) < 16 or reply[3] & 0x0F != 0 or reply[7] == 0:
        return None
    return socket.inet_ntoa(reply[-4:])


def hostapd_parse(conf: Path) -> str:
    """hostapd reads the whole file before it looks for the WiFi chip: its log shows any parse error."""
    result = subprocess.run(["timeout", "20", "hostapd", "-d", str(conf)], capture_output=True, text=True)
    return result.stdout + result.stderr
