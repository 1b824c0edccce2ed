# Right: accept one peer, close the listener, fork; the child types, the parent prints, then
# stops and reaps the child.
# expect: zombie=skip
import os, signal, socket, sys
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("", PORT))
srv.listen(1)
s, addr = srv.accept()
srv.close()
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
