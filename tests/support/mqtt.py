"Our own Mosquitto on a free port, for the tests of the MQTT bridge."
import getpass
import subprocess
import textwrap
from pathlib import Path

from support.process import free_port, reachable, stop, wait_for


class Mosquitto:
    """Our own Mosquitto on a free port. It keeps every QoS 1 message of an
    absent or slow subscriber (max_queued_messages 0: no limit), as the
    production broker of the bridge must."""

    def __init__(self, workdir, extra='', name='mosquitto',
            persistent=False):
        self.workdir = Path(workdir)
        self.port = free_port()
        self.name = name
        self.conf = self.workdir / f'{name}.conf'
        self.log = self.workdir / f'{name}.log'
        self.extra = extra
        # Persistent: the sessions and their messages survive a restart.
        self.data = self.workdir / f'{name}-data'
        self.persistent = persistent
        self.process = None

    def start(self):
        anonymous = ('' if 'allow_anonymous' in self.extra
            else 'allow_anonymous true')
        if self.persistent:
            self.data.mkdir(exist_ok=True)
            persistence = (f'persistence true\n'
                f'            persistence_location {self.data}/')
        else:
            persistence = 'persistence false'
        self.conf.write_text(textwrap.dedent(f'''\
            listener {self.port} 127.0.0.1
            {anonymous}
            {persistence}
            max_queued_messages 0
            user {getpass.getuser()}
            log_dest file {self.log}
            ''') + textwrap.dedent(self.extra))
        with open(self.workdir / f'{self.name}.out', 'ab') as out:
            self.process = subprocess.Popen(['mosquitto', '-c',
                    str(self.conf)], stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True)

        def ready():
            if self.process.poll() is not None:
                raise AssertionError('mosquitto exited:\n'
                    + (self.workdir / f'{self.name}.out').read_text())
            return reachable(self.port)
        wait_for(ready, 'mosquitto to start')
        return self

    def stop(self):
        stop(self.process)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
