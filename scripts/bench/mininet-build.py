#!/usr/bin/python3
"""Mininet reference build for `npm run bench`: HOSTS hosts on SWITCHES Linux bridges (LinuxBridge,
no controller, switches in a chain, hosts spread round robin), built, started, pinged once
(first host → last host) and stopped, with wall times. Prints one line:
  MININET {"hosts":…, "switches":…, "build_ms":…, "start_ms":…, "ping":…, "stop_ms":…}

Run it inside a lab network namespace (`ip netns exec dl-… /usr/bin/python3 mininet-build.py …`):
Mininet's "root namespace" side (the bridges, the switch shells) is then that namespace, and each
host is a namespace of its own. Mininet.init (fixLimits: host-global sysctls such as
kernel.pty.max, fs.file-max) is skipped on purpose: the benchmark never changes host settings.
Every shell Mininet starts is recorded in PIDFILE as it starts, so the caller can end exactly
those processes if this script dies halfway.

usage: mininet-build.py HOSTS SWITCHES PIDFILE
"""
import json
import sys
import time

from mininet.log import setLogLevel
from mininet.net import Mininet
from mininet.node import Host
from mininet.nodelib import LinuxBridge
from mininet.topo import Topo

HOSTS, SWITCHES, PIDFILE = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]


def record(pid):
    with open(PIDFILE, 'a') as f:
        f.write('%d\n' % pid)


class RecordedHost(Host):
    def startShell(self, *args, **kwargs):
        Host.startShell(self, *args, **kwargs)
        record(self.pid)


class RecordedBridge(LinuxBridge):
    def startShell(self, *args, **kwargs):
        LinuxBridge.startShell(self, *args, **kwargs)
        record(self.pid)


class Spread(Topo):
    def build(self, hosts=2, switches=1):
        sw = [self.addSwitch('s%d' % (i + 1)) for i in range(switches)]
        for a, b in zip(sw, sw[1:]):
            self.addLink(a, b)
        for h in range(hosts):
            self.addLink(self.addHost('h%d' % (h + 1)), sw[h % switches])


def main():
    setLogLevel('error')
    Mininet.inited = True  # skip Mininet.init → fixLimits (host-global sysctls and rlimits)
    topo = Spread(hosts=HOSTS, switches=SWITCHES)
    net = Mininet(topo=topo, host=RecordedHost, switch=RecordedBridge, controller=None,
                  build=False, autoSetMacs=True, waitConnected=False)
    t0 = time.monotonic()
    net.build()
    t1 = time.monotonic()
    net.start()
    t2 = time.monotonic()
    first, last = net.hosts[0], net.hosts[-1]
    out = first.cmd('ping -c1 -W2 %s' % last.IP())
    ping = ' 0% packet loss' in out
    t3 = time.monotonic()
    net.stop()
    t4 = time.monotonic()
    print('MININET ' + json.dumps({
        'hosts': len(net.hosts), 'switches': len(net.switches),
        'build_ms': round((t1 - t0) * 1000, 1), 'start_ms': round((t2 - t1) * 1000, 1),
        'ping': ping, 'ping_ms': round((t3 - t2) * 1000, 1), 'stop_ms': round((t4 - t3) * 1000, 1),
    }), flush=True)


main()
