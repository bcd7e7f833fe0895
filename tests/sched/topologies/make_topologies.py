#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Regenerates the hwloc XML topologies in this folder (used by
# tests/sched/plan_numa_test.cpp and tests/node/plan_topology.test.mjs) from
# hwloc synthetic descriptions, then edits what a synthetic topology cannot
# express: a GPU's PCI locality, offline CPUs, a cgroup-restricted allowed set.
# Needs lstopo-no-graphics (Debian package hwloc). Run from anywhere:
#   python3 tests/sched/topologies/make_topologies.py
# Design: docs/scheduler.md ("Core plan").
import os
import subprocess
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
HEADER = '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE topology SYSTEM "hwloc2.dtd">\n'


def parse_set(text):
    # hwloc writes a bitmap as comma-separated 32-bit hex words, most significant first.
    value = 0
    for word in text.split(','):
        value = (value << 32) | int(word, 16)
    return value


def format_set(value):
    words = []
    while True:
        words.append('0x%08x' % (value & 0xffffffff))
        value >>= 32
        if value == 0:
            break
    return ','.join(reversed(words))


def synthetic(desc):
    xml = subprocess.run(['lstopo-no-graphics', '--input', desc, '--of', 'xml', '-'],
                         check=True, capture_output=True, text=True).stdout
    return ET.ElementTree(ET.fromstring(xml.split('\n', 2)[2]))


def take_offline(tree, cpus):
    # Linux hides offline CPUs: no PU object, absent from every cpuset but complete_cpuset.
    mask = sum(1 << c for c in cpus)

    def walk(obj):
        for child in list(obj.findall('object')):
            if child.get('type') == 'PU' and int(child.get('os_index')) in cpus:
                obj.remove(child)
                continue
            walk(child)
            if child.get('type') == 'Core' and not child.findall('object'):
                obj.remove(child)
        for attr in ('cpuset', 'allowed_cpuset'):
            if obj.get(attr) is not None:
                obj.set(attr, format_set(parse_set(obj.get(attr)) & ~mask))

    walk(tree.getroot())


def restrict_allowed(tree, cpus):
    machine = tree.getroot().find('object')
    machine.set('allowed_cpuset', format_set(sum(1 << c for c in cpus)))


def attach_gpu(tree, package_os_index, busid='0000:81:00.0'):
    # A PCI host bridge under the package (under the machine when
    # package_os_index is None), holding a 3D controller (class 0302) with its
    # DRM card, as hwloc reports a discrete GPU.
    gp = 10000 + 10 * (package_os_index or 0)
    for pkg in tree.getroot().iter('object'):
        if (pkg.get('type') == 'Machine' and package_os_index is None) or (
                pkg.get('type') == 'Package' and pkg.get('os_index') == str(package_os_index)):
            bus = busid.split(':')[1]
            bridge = ET.SubElement(pkg, 'object', {
                'type': 'Bridge', 'gp_index': str(gp), 'bridge_type': '0-1', 'depth': '0',
                'bridge_pci': '0000:[%s-%s]' % (bus, bus)})
            dev = ET.SubElement(bridge, 'object', {
                'type': 'PCIDev', 'gp_index': str(gp + 1), 'pci_busid': busid,
                'pci_type': '0302 [10de:2335] [10de:18bf] a1', 'pci_link_speed': '63.015385'})
            ET.SubElement(dev, 'object', {'type': 'OSDev', 'gp_index': str(gp + 2), 'name': 'card%d' % (package_os_index or 0),
                                          'subtype': 'DRM', 'osdev_type': '1'})
            return
    raise SystemExit('no package %d' % package_os_index)


def write(tree, name):
    ET.indent(tree, '  ')
    with open(os.path.join(HERE, name), 'w', encoding='utf-8') as f:
        f.write(HEADER + ET.tostring(tree.getroot(), encoding='unicode') + '\n')


def main():
    # 2 sockets, one NUMA node each, 4 L3 groups per socket (EPYC-like), SMT on,
    # a GPU on the second socket's node.
    t = synthetic('pack:2 numa:1 l3:4 core:4 pu:2')
    attach_gpu(t, 1)
    write(t, '2socket-l3x4-smt-gpu-node1.xml')
    # The same machine with its GPU on the first node.
    t = synthetic('pack:2 numa:1 l3:4 core:4 pu:2')
    attach_gpu(t, 0, '0000:01:00.0')
    write(t, '2socket-l3x4-smt-gpu-node0.xml')
    # A GPU whose bridge hangs off the machine: local to both nodes.
    t = synthetic('pack:2 numa:1 core:8 pu:1')
    attach_gpu(t, None)
    write(t, '2socket-gpu-machine-wide.xml')
    # Two GPUs, one per socket: the plan cannot know which one renders.
    t = synthetic('pack:2 numa:1 core:8 pu:1')
    attach_gpu(t, 0, '0000:01:00.0')
    attach_gpu(t, 1, '0000:81:00.0')
    write(t, '2socket-two-gpus.xml')
    # 2 sockets x 4 NUMA nodes (sub-NUMA clustering), SMT off, 4 cores per node,
    # a GPU local to the whole second package (so to its 4 nodes).
    t = synthetic('pack:2 numa:4 core:4 pu:1')
    attach_gpu(t, 1)
    write(t, '2socket-4numa-gpu-package1.xml')
    # 2 sockets x 8 cores, SMT on, CPUs 4-7 (cores 2-3) and 20-21 offline.
    t = synthetic('pack:2 numa:1 core:8 pu:2')
    take_offline(t, {4, 5, 6, 7, 20, 21})
    write(t, '2socket-offline-cpus.xml')
    # 2 sockets x 8 cores, SMT off, a cgroup cpuset of CPUs 6-13: 2 cores on
    # node 0, 6 on node 1.
    t = synthetic('pack:2 numa:1 core:8 pu:1')
    restrict_allowed(t, set(range(6, 14)))
    write(t, '2socket-cgroup-6to13.xml')


if __name__ == '__main__':
    main()
