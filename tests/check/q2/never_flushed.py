# Mistake: the socket wrapped in a buffered file, never flushed: the lines wait in the
# buffer until the end; and a server gone goes unnoticed (the writes only fill the buffer).
# expect: lines=fail burst=skip server-close=warn
import socket, sys
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
s = socket.create_connection(("localhost", PORT))
f = s.makefile("w")
while True:
    try:
        line = input()
    except EOFError:
        break
    try:
        f.write(line + "\n")
    except OSError:
        break
try:
    f.close()
except OSError:
    pass
s.close()
