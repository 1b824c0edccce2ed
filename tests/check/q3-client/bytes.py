# Mistake: print(reply) of bytes shows b'…\n'.
# expect: print=fail
import socket, sys
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
s = socket.create_connection(("localhost", PORT))
while True:
    try:
        line = input()
    except EOFError:
        break
    s.sendall((line + "\n").encode())
    reply = s.recv(1024)
    if not reply:
        break
    print(reply)
s.close()
