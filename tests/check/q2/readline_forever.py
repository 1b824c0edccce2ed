# Mistake: sys.stdin.readline() returns '' at the end of input, and the loop goes on
# sending nothing, forever: no FIN.
# expect: eof=fail
import socket, sys
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
s = socket.create_connection(("localhost", PORT))
while True:
    line = sys.stdin.readline()
    try:
        s.sendall(line.encode())
    except OSError:
        break
