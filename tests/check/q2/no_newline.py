# Mistake: input() strips the '\n' and it is not put back: the lines run together.
# expect: lines=fail burst=skip
import socket, sys
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
s = socket.socket()
s.connect(("127.0.0.1", PORT))
while True:
    try:
        line = input()
    except EOFError:
        break
    try:
        s.sendall(line.encode())
    except OSError:
        break
s.close()
