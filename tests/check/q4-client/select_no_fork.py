# Mistake: both directions in one process with select(): it works, but the TD asks for two
# processes, with fork().
# expect: fork=fail
import os, select, socket, sys
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
s = socket.create_connection(("localhost", PORT))
keyboard = True
while True:
    ready = select.select([s, 0] if keyboard else [s], [], [])[0]
    if 0 in ready:
        data = os.read(0, 4096)
        if data:
            s.sendall(data)
        else:
            keyboard = False
            s.shutdown(socket.SHUT_WR)
    if s in ready:
        data = s.recv(4096)
        if not data:
            break
        sys.stdout.write(data.decode(errors="replace"))
        sys.stdout.flush()
