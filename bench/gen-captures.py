#!/usr/bin/env python3
"""Write synthetic TCP captures (pcap, raw IPv4, microsecond timestamps) for bench/ladder.

  gen-captures.py conns N FILE   N separate short connections (SYN, SYN-ACK, ACK with data,
                                 RST) between one client and one server, each on its own
                                 pair of ports
  gen-captures.py bulk MB FILE   one connection carrying about MB megabytes of 1000-byte
                                 segments (one ACK for every two), handshake and close included

As the client's capture in a lab whose subnet is 198.18.0 (RFC 2544's range for benchmarks):
client 198.18.0.11, server 198.18.0.10. The files are only written, nothing is sent.
Python standard library only.
"""

import struct
import sys

SYN, FIN, RST, PSH, ACK = 2, 1, 4, 8, 16
SERVER = bytes([198, 18, 0, 10])
CLIENT = bytes([198, 18, 0, 11])


def ipv4(src, dst, sport, dport, flags, seq, ack, data):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                      5 << 4, flags, 65535, 0, 0) + data
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0,
                       src, dst) + tcp


class Pcap:
    def __init__(self, path):
        self.f = open(path, "wb", buffering=1 << 20)
        self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101))
        self.us = 1_700_000_000 * 1_000_000

    def packet(self, ip, step_us=10):
        self.us += step_us
        self.f.write(struct.pack("<IIII", self.us // 1_000_000, self.us % 1_000_000,
                                 len(ip), len(ip)))
        self.f.write(ip)

    def close(self):
        self.f.close()


def conns(n, path):
    out = Pcap(path)
    for i in range(n):
        port, server = 1024 + i % 60000, 8000 + i // 60000
        c, s = 1000 + i, 5000 + i
        out.packet(ipv4(CLIENT, SERVER, port, server, SYN, c, 0, b""))
        out.packet(ipv4(SERVER, CLIENT, server, port, SYN | ACK, s, c + 1, b""))
        out.packet(ipv4(CLIENT, SERVER, port, server, PSH | ACK, c + 1, s + 1, b"bonjour\n"))
        out.packet(ipv4(SERVER, CLIENT, server, port, RST | ACK, s + 1, c + 9, b""))
    out.close()


def bulk(mb, path):
    out = Pcap(path)
    client = CLIENT
    c, s = 1000, 5000
    data = b"x" * 1000
    out.packet(ipv4(client, SERVER, 40000, 8080, SYN, c, 0, b""))
    out.packet(ipv4(SERVER, client, 8080, 40000, SYN | ACK, s, c + 1, b""))
    out.packet(ipv4(client, SERVER, 40000, 8080, ACK, c + 1, s + 1, b""))
    seq = c + 1
    segments = mb * 1_000_000 // 1070
    for k in range(segments):
        out.packet(ipv4(client, SERVER, 40000, 8080, PSH | ACK, seq, s + 1, data))
        seq += len(data)
        if k % 2:
            out.packet(ipv4(SERVER, client, 8080, 40000, ACK, s + 1, seq, b""))
    out.packet(ipv4(client, SERVER, 40000, 8080, FIN | ACK, seq, s + 1, b""))
    out.packet(ipv4(SERVER, client, 8080, 40000, FIN | ACK, s + 1, seq + 1, b""))
    out.packet(ipv4(client, SERVER, 40000, 8080, ACK, seq + 1, s + 2, b""))
    out.close()


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("conns", "bulk") or not sys.argv[2].isdigit():
        sys.exit("usage: gen-captures.py conns N FILE | bulk MB FILE")
    {"conns": conns, "bulk": bulk}[sys.argv[1]](int(sys.argv[2]), sys.argv[3])


if __name__ == "__main__":
    main()
