"""modules/shared_total_tqdm.py: the console's "Total progress" bar over every sampling step of a job."""


class TotalTQDM:
    def __init__(self):
        self._tqdm = None
        self.total = 0
        self.n = 0

    def reset(self):
        self._tqdm = True
        self.n = 0

    def update(self):
        if self._tqdm is None:
            self.reset()
        self.n += 1

    def updateTotal(self, new_total):  # noqa: N802 - the WebUI's name
        if self._tqdm is None:
            self.reset()
        self.total = new_total

    def clear(self):
        self._tqdm = None
        self.n = 0
        self.total = 0
