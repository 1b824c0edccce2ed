# Mistake: a bare except around recv() also catches KeyboardInterrupt: Ctrl-C cannot stop it.
# expect: next-client=warn stop=fail
import socket, sys
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("", PORT))
s.listen(1)
c, addr = s.accept()
buf = b""
while True:
    try:
        data = c.recv(1024)
    except:
        continue
    if not data:
        break
    buf += data
    while b"\n" in buf:
        line, buf = buf.split(b"\n", 1)
        print(line.decode())
