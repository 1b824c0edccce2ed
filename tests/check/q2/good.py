# Right: each line typed is sent with its '\n'; Ctrl-D (EOFError) ends cleanly.
# expect:
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
        print("le serveur est parti", file=sys.stderr)
        break
s.close()
