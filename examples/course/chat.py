#!/usr/bin/env python3
"""UDP chat (application chat), with reseau.

    python examples/course/chat.py                        # 127.0.0.1:5000
    python examples/course/chat.py --port 5001            # a second peer
    /join 127.0.0.1 5001
    /send Bonjour !
    /quit
    /exit

What changed from the course's chat: the class, its handlers and its
receiving thread are the course's, but
- `reseau.parse_command(line)` splits and checks each line (the course
  split it by hand): a bad port or a missing argument is explained instead
  of crashing the program, and `/help` lists the commands;
- the socket is a `reseau.Chat`: `join`, `send` (the sendto loop) and
  `receive(timeout=0.5)` (recvfrom with a timeout) are its methods.
The end of stdin works as /exit.
"""

import argparse
import sys
import threading

import reseau

class Chat():
    def __init__(self, host='127.0.0.1', port=5000):
        self.__s = reseau.Chat(host=host, port=port)
        self.__running = False
        self.host, self.port = self.__s.address

    def _exit(self, command):
        self.__running = False

    def _quit(self, command):
        self.__s.quit()

    def _join(self, command):
        self.__s.join(command.host, command.port)

    def _send(self, command):
        # With no peer joined, reseau raises CommandError (printed below).
        self.__s.send(command.text)

    def _help(self, command):
        print('/join HOST PORT, /send TEXT, /quit, /exit, /help')

    def _receive(self):
        while self.__running:
            received = self.__s.receive(timeout=0.5)
            if received is not None:
                text, address = received
                print('%s:%d: %s' % (address[0], address[1], text), flush=True)

    def run(self):
        handlers = {
            'exit': self._exit,
            'quit': self._quit,
            'join': self._join,
            'send': self._send,
            'help': self._help,
        }
        self.__running = True
        receiver = threading.Thread(target=self._receive)
        receiver.start()
        while self.__running:
            line = sys.stdin.readline()
            if line == '':  # end of stdin
                self._exit(None)
                break
            try:
                command = reseau.parse_command(line)
                handlers[command.name](command)
            except reseau.CommandError as e:
                print(e)
            except OSError as e:
                print('Network error:', e)
        receiver.join()
        self.__s.close()


def main():
    parser = argparse.ArgumentParser(description='UDP chat.')
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=5000)
    args = parser.parse_args()
    chat = Chat(args.host, args.port)
    print('listening on %s:%d' % (chat.host, chat.port), flush=True)
    chat.run()
    return 0


if __name__ == '__main__':
    sys.exit(main())
