# Mistake: input() raises EOFError at Ctrl-D, and nothing catches it: a traceback.
# expect: eof=fail
import socket, sys
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
s = socket.create_connection(("localhost", PORT))
while True:
    line = input()
    try:
        s.sendall((line + "\n").encode())
    except OSError:
        break
s.close()
