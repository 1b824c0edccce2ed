# Mistake: the recv() never checks for b'': when the server leaves, it prints nothing and
# goes back to the keyboard, as if it were its turn.
# expect: peer-close=fail
import socket, sys
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
s = socket.create_connection(("localhost", PORT))
while True:
    try:
        line = input()
    except EOFError:
        break
    try:
        s.sendall((line + "\n").encode())
    except OSError:
        break
    reply = s.recv(1024)
    print(reply.decode(), end="")
s.close()
