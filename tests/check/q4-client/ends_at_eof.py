# Mistake (a warning): at Ctrl-D the whole program stops, so what the peer still sends after
# our FIN is lost (no half-close).
# expect: half-close=warn
import os, signal, socket, sys, time
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
    parent = os.getppid()
    os.kill(parent, signal.SIGTERM)
    while os.getppid() == parent:  # (the parent is gone: this process is reparented)
        time.sleep(0.01)
    s.shutdown(socket.SHUT_WR)
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
