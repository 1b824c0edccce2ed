# Mistake: threads instead of fork (it works, but it is not what the TD asks).
# expect: fork=fail
import socket, sys, threading
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
s = socket.create_connection(("localhost", PORT))
def keyboard():
    while True:
        try:
            line = input()
        except EOFError:
            break
        s.sendall((line + "\n").encode())
    s.shutdown(socket.SHUT_WR)
threading.Thread(target=keyboard, daemon=True).start()
while True:
    data = s.recv(4096)
    if not data:
        break
    print(data.decode(), end="")
