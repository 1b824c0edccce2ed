# Mistake: when the peer closes, the parent exits and leaves its child blocked reading the
# keyboard.
# expect: peer-end=fail
import os, socket, sys
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
    s.shutdown(socket.SHUT_WR)
    os._exit(0)
while True:
    data = s.recv(4096)
    if not data:
        break
    print(data.decode(), end="")
print("le pair est parti")
