# Right, and serves one client after another; a file over the socket reads lines for us.
# expect:
import socket, sys
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", PORT))
s.listen(5)
while True:
    c, addr = s.accept()
    with c, c.makefile("rb") as f:
        for line in f:
            print("client :", line.decode().rstrip("\n"))
    print("client parti")
