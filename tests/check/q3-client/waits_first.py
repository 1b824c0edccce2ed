# Mistake: the alternation started the other way: the client waits for the server first.
# expect: turns=fail print=skip
import socket, sys
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
s = socket.create_connection(("localhost", PORT))
f = s.makefile("rb")
while True:
    reply = f.readline()
    if not reply:
        break
    print(reply.decode(), end="")
    try:
        line = input()
    except EOFError:
        break
    s.sendall((line + "\n").encode())
s.close()
