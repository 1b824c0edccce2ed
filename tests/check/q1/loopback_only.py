# Mistake: bound to 127.0.0.1: right on one machine, but no client on another host reaches it.
# expect: listen-all=warn next-client=warn
import socket, sys
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", PORT))
s.listen(1)
c, addr = s.accept()
buf = b""
while True:
    data = c.recv(1024)
    if not data:
        break
    buf += data
    while b"\n" in buf:
        line, buf = buf.split(b"\n", 1)
        print(line.decode())
c.close()
