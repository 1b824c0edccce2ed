# Right: wait for the client's line, print it, type, send; again. b'' ends it.
# expect:
import socket, sys
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("", PORT))
srv.listen(1)
s, addr = srv.accept()
f = s.makefile("rb")
while True:
    line = f.readline()
    if not line:
        print("le client est parti")
        break
    print("client :", line.decode().rstrip("\n"))
    try:
        answer = input()
    except EOFError:
        break
    s.sendall((answer + "\n").encode())
s.close()
