# Mistake (a warning): the server leaving ends the client with a BrokenPipeError traceback.
# expect: server-close=warn
import socket, sys
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
s = socket.create_connection(("localhost", PORT))
while True:
    try:
        line = input()
    except EOFError:
        break
    s.sendall((line + "\n").encode())
s.close()
