# Right: type, send, wait for the server's line, print it; again. b'' ends it.
# expect:
import socket, sys
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
s = socket.create_connection(("localhost", PORT))
f = s.makefile("rb")
while True:
    try:
        line = input("> ")
    except EOFError:
        break
    s.sendall((line + "\n").encode())
    reply = f.readline()
    if not reply:
        print("le serveur est parti")
        break
    print("serveur :", reply.decode().rstrip("\n"))
s.close()
