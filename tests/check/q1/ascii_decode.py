# Mistake: lines decoded as ASCII: accented text raises UnicodeDecodeError (only utf8 sends
# any); the rest of the server is right, and is judged on a restart.
# expect: utf8=fail next-client=warn
import socket, sys
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("", PORT))
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
        print(line.decode("ascii"))
c.close()
