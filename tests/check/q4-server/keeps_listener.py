# Mistake (a warning): the child keeps the listening socket.
# expect: listener=warn
import os, signal, socket, sys
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("", PORT))
srv.listen(5)
while True:
    s, addr = srv.accept()
    pid = os.fork()
    if pid == 0:
        pass  # the listener is not closed in the child
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
    while True:
        data = s.recv(4096)
        if not data:
            break
        sys.stdout.write(data.decode())
        sys.stdout.flush()
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    os.waitpid(pid, 0)
    s.close()
