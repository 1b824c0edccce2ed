# Mistake: at Ctrl-D the child calls close(): no FIN leaves while the parent still holds
# the socket.
# expect: eof=fail half-close=skip
import os, signal, socket, sys
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
s = socket.create_connection(("localhost", PORT))
pid = os.fork()
if pid == 0:
    while True:
        try:
            line = input()
        except EOFError:
            break
        s.sendall((line + "\n").encode())
    s.close()
    os._exit(0)
while True:
    data = s.recv(4096)
    if not data:
        break
    print(data.decode(), end="")
try:
    os.kill(pid, signal.SIGTERM)
except ProcessLookupError:
    pass
os.waitpid(pid, 0)
