# Mistake: no SO_REUSEADDR: restarted while its last connection is in TIME_WAIT, bind fails.
# expect: next-client=warn reuseaddr=fail
import socket, sys
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
s = socket.socket()
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
        print(line.decode())
