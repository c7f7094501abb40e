#!/usr/bin/python3
"""examples/armmap_client.py - an armmapd client in Python, from the proto.

Talks to armmapd over its Unix socket with nothing but the wire protocol
that `make install` puts in share/armmap/armmap.proto: each message is a
4-byte big-endian length and one protobuf Request or Response.  Generate
the Python module first, then run:

    protoc --proto_path=/usr/local/share/armmap --python_out=DIR armmap.proto
    PYTHONPATH=DIR python3 examples/armmap_client.py SOCKET

It boots an aries machine, allocates a highmem page, kmaps it, translates
the kmap address and a lowmem one, looks up the page's aliases and prints
one line per step.  Debian: python3-protobuf and protobuf-compiler.
Exit status 0, or 1 with the daemon's error on stderr.
"""
import socket
import struct
import sys

import armmap_pb2 as pb


class DaemonError(Exception):
    """An answer whose Status is not OK: "CODE: message"."""


class Client:
    """One connection; requests are sent and answered one at a time."""

    def __init__(self, path, tenant="default"):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.next_id = 1
        hello = self.call(pb.Request(hello=pb.Hello(protocol=1,
                                                    tenant=tenant)))
        self.server = hello.hello.server

    def _recv_exactly(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise DaemonError("IO: the daemon closed the connection")
            data += chunk
        return data

    def call(self, req):
        """Sends @req with a fresh id; returns its Response, or raises."""
        req.id = self.next_id
        self.next_id += 1
        body = req.SerializeToString()
        self.sock.sendall(struct.pack(">I", len(body)) + body)
        (length,) = struct.unpack(">I", self._recv_exactly(4))
        resp = pb.Response()
        resp.ParseFromString(self._recv_exactly(length))
        if resp.id != req.id:
            raise DaemonError("PROTOCOL: answer %d to request %d"
                              % (resp.id, req.id))
        if resp.status.code != pb.OK:
            raise DaemonError("%s: %s" % (pb.Code.Name(resp.status.code),
                                          resp.status.message))
        return resp

    def op(self, machine, code, *args):
        """One operation; returns its OpResult (value, aux, seq)."""
        resp = self.call(pb.Request(op=pb.Op(machine=machine, code=code,
                                             args=list(args))))
        if resp.op.status.code != pb.OK:
            raise DaemonError("%s: %s" % (pb.Code.Name(resp.op.status.code),
                                          resp.op.status.message))
        return resp.op


def region_name(region):
    """REGION_LOWMEM -> "lowmem", as the armmap CLI prints it."""
    return pb.Region.Name(region)[len("REGION_"):].lower()


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: armmap_client.py SOCKET\n")
        return 2
    c = Client(argv[1])
    print("server %s" % c.server)
    machine = c.call(pb.Request(create=pb.Create(preset="aries"))).machine
    print("machine %d" % machine.id)
    pfn = c.op(machine.id, pb.OP_ALLOC, 2, 0).value  # zone HighMem, order 0
    print("alloc pfn 0x%x" % pfn)
    va = c.op(machine.id, pb.OP_KMAP, pfn).value
    print("kmap va 0x%08x" % va)
    tr = c.call(pb.Request(translate=pb.Translate(
        machine=machine.id, va=[va, 0xC0000000, 0]))).translate
    for i, addr in enumerate([va, 0xC0000000, 0]):
        if tr.fault[i]:
            print("translate 0x%08x fault %d" % (addr, tr.fault[i]))
        else:
            print("translate 0x%08x 0x%08x %s"
                  % (addr, tr.pa[i], region_name(tr.region[i])))
    ph = c.call(pb.Request(phys=pb.Phys(machine=machine.id,
                                        pa=[pfn << 12]))).phys
    for va_alias, region in zip(ph.aliases[0].va, ph.aliases[0].region):
        print("phys 0x%08x 0x%08x %s" % (pfn << 12, va_alias,
                                          region_name(region)))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except (DaemonError, OSError) as e:
        sys.stderr.write("armmap_client.py: %s\n" % e)
        sys.exit(1)
