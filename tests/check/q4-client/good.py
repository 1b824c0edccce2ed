# Right: after connect, fork. The child copies keyboard -> socket, then shutdown(SHUT_WR)
# (a FIN, though the parent still holds the socket) and _exit; the parent copies
# socket -> screen, then stops the child (blocked on the keyboard) and reaps it.
# expect:
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
        try:
            s.sendall((line + "\n").encode())
        except OSError:
            break
    s.shutdown(socket.SHUT_WR)
    os._exit(0)
buf = b""
while True:
    data = s.recv(4096)
    if not data:
        break
    buf += data
    *lines, buf = buf.split(b"\n")
    for l in lines:
        print(l.decode())
try:
    os.kill(pid, signal.SIGTERM)
except ProcessLookupError:
    pass
os.waitpid(pid, 0)
s.close()
