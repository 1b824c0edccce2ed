# Mistake: recv() returning b'' is not seen: when the client leaves, the server prints an
# empty line and waits for the keyboard.
# expect: peer-close=fail
import socket, sys
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("", PORT))
srv.listen(1)
s, addr = srv.accept()
while True:
    data = s.recv(1024)
    print(data.decode(), end="")
    try:
        answer = input()
    except EOFError:
        break
    try:
        s.sendall((answer + "\n").encode())
    except OSError:
        break
s.close()
