# Mistake: data.decode() on each piece received: a character cut between two segments
# raises UnicodeDecodeError.
# expect: utf8=fail next-client=warn
import socket, sys
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("", PORT))
s.listen(1)
c, addr = s.accept()
while True:
    data = c.recv(1024)
    if not data:
        break
    print(data.decode(), end="")
