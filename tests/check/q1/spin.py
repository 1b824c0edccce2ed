# Mistake: the loop never looks for b'' (the end of the stream): once the client has gone,
# recv() returns b'' at once, forever: a busy loop.
# expect: peer-close=fail next-client=skip
import socket, sys
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("", PORT))
s.listen(1)
c, addr = s.accept()
buf = b""
while True:
    buf += c.recv(1024)
    while b"\n" in buf:
        line, buf = buf.split(b"\n", 1)
        print(line.decode())
