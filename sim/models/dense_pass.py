"""The training pass of a `BackpropMLP` without inhibited stages, on preallocated buffers.

Every layer's weights and bias sit in the model's flat parameter buffer as one C-contiguous
block of shape ``(n_pre + 1, n_post)``: ``W^T`` (``W`` is stored column-major) followed by ``b``
as its last row. Each layer's input is kept with a constant column of ones appended
(``r_aug = [r, 1]``), so that

* the current is one matrix product with the bias included: ``J = r_aug [W^T; b]``, and
* the layer's direction is one matrix product with the bias direction included:
  ``[dW^T; db] = r_aug^T e``, written straight into the gradient buffer,

where ``e = -dL/dJ`` is Rumelhart's delta (already divided by the batch size). Every product
hands BLAS either a C-contiguous matrix or the transpose of one, so nothing is copied. The
buffers of a batch size are allocated once (normally two sets: the batch size and the last,
smaller batch of an epoch); nothing is allocated per batch for ReLU hidden layers and a
softmax / cross-entropy output, whose error ``e = (t - softmax(J)) / batch`` is formed in place
in the output current's buffer. Same numbers as the plain forward and backward passes of
`sim.models.mlp.BackpropMLP` up to float rounding (tested against a plain reference).
"""

from __future__ import annotations

import numpy as np

from sim.learning.rules import FeedbackAlignment

__all__ = ["DensePass"]

#: Smallest row sum of ``exp(Z - max Z)`` (``e^-20``) for which shifting every row of the output
#: currents by the batch's largest one stays exact to rounding (the terms it loses to underflow
#: are below ``e^-67`` of their row's sum); below it, each row is shifted by its own maximum.
ROW_SUM_FLOOR = float(np.exp(-20.0))


class DensePass:
    """Forward and backward passes of a plain (uninhibited) multilayer perceptron.

    Parameters
    ----------
    blocks : list of ndarray, shapes (n_l + 1, n_{l+1})
        Per layer ``[W^T; b]``: C-contiguous views into the flat parameter buffer.
    grad_blocks : list of ndarray, same shapes
        The matching views into the flat gradient buffer, where the direction is written.
    phi : sim.substrate.neurons.Neuron
        Hidden rate function; ``relu`` True when it is the rectifier (the fast path).
    relu : bool
    output : sim.substrate.neurons.Neuron
        Output rate function; ``softmax`` True for softmax with cross-entropy (error formed in
        place), else the squared error of `BackpropMLP` (``sigmoid`` True multiplies the error
        by the sigmoid's derivative).
    softmax, sigmoid : bool
    rule : Backprop or FeedbackAlignment
        How the error moves down: through ``W``, or the rule's fixed matrices ``B``.
    """

    def __init__(self, blocks, grad_blocks, phi, relu, output, softmax, sigmoid, rule):
        self.blocks, self.grad_blocks, self.rule = blocks, grad_blocks, rule
        self.phi, self.relu = phi, relu
        self.output, self.softmax, self.sigmoid = output, softmax, sigmoid
        self.dtype = blocks[0].dtype
        self._buffers = {}
        self._inputs = self._targets = self._ones_col = self._last_input = None

    # ----- per epoch --------------------------------------------------------------------
    def begin_epoch(self, X, T, order, batch_size):
        """Gather the epoch's shuffled inputs (with the ones column) and targets, each target
        row divided by the size of the batch it falls in (so the error needs no division).

        Parameters
        ----------
        X : ndarray, shape (n_samples, n_features)
        T : ndarray, shape (n_samples, n_classes)
            One-hot targets.
        order : ndarray of int, shape (n_samples,)
            Presentation order.
        batch_size : int
        """
        n, d = X.shape
        if self._inputs is None or self._inputs.shape != (n, d + 1):
            self._inputs = np.empty((n, d + 1), dtype=self.dtype)
            self._inputs[:, d] = 1
            self._targets = np.empty((n, T.shape[1]), dtype=self.dtype)
        # mode='clip' writes straight into the (strided) buffer; 'raise' would go through a
        # temporary copy. ``order`` is a permutation, so nothing is ever clipped
        np.take(X, order, axis=0, out=self._inputs[:, :d], mode="clip")
        np.take(T, order, axis=0, out=self._targets, mode="clip")
        sizes = np.full(n, float(batch_size))
        last = n - (n - 1) // batch_size * batch_size  # size of the last batch
        sizes[n - last:] = last
        self._targets /= sizes[:, None].astype(self.dtype)

    def batch(self, start, stop):
        """Write the direction of batch ``[start, stop)`` of the epoch into the gradient buffer."""
        self.direction(self._inputs[start:stop], self._targets[start:stop], self.rule)

    def direction_of(self, X, T, rule=None):
        """The direction for a batch ``X`` (n, n_in) with one-hot targets ``T`` (n, n_classes),
        by ``rule`` (default: the model's), into the gradient buffer (allocates the inputs)."""
        Xa = np.concatenate([X, np.ones((X.shape[0], 1), dtype=X.dtype)], axis=1)
        self.direction(Xa, (T / T.shape[0]).astype(X.dtype), self.rule if rule is None else rule)

    def proba(self, X, chunk=256):
        """Output rates for inputs ``X`` (n, n_in), shape (n, n_classes), a new array: the
        forward pass on the preallocated buffers, ``chunk`` rows at a time (small buffers that
        stay in cache and are reused across calls; the softmax shifted as in training: equal
        to the plain softmax up to rounding)."""
        n = X.shape[0]
        out = np.empty((n, self.blocks[-1].shape[1]), dtype=self.dtype)
        Xa_all = np.empty((min(chunk, n), X.shape[1] + 1), dtype=self.dtype)
        Xa_all[:, -1] = 1
        for start in range(0, n, chunk):
            Xc = X[start:start + chunk]
            Xa = Xa_all[:Xc.shape[0]]
            Xa[:, :-1] = Xc
            work = self.forward(Xa)
            Z = work["J"][-1]
            if self.softmax:
                self._softmax(work, Z, work["col"])
                np.divide(Z, work["col"], out=out[start:start + chunk])
            else:
                out[start:start + chunk] = self.output.rate(Z)
        return out

    # ----- the passes -------------------------------------------------------------------
    def _work(self, n):
        """Buffers for a batch of ``n``: augmented rates, currents, errors, masks per layer."""
        work = self._buffers.get(n)
        if work is None:
            dt = self.dtype
            sizes = [A.shape[1] for A in self.blocks]
            rates = []
            for m in sizes[:-1]:
                R = np.empty((n, m + 1), dtype=dt)
                R[:, m] = 1
                rates.append(R)
            work = {"rates": rates, "J": [np.empty((n, m), dtype=dt) for m in sizes],
                    "E": [np.empty((n, m), dtype=dt) for m in sizes[:-1]],
                    "mask": [np.empty((n, m), dtype=bool) for m in sizes[:-1]],
                    "col": np.empty((n, 1), dtype=dt)}
            if len(self._buffers) > 8:  # many batch sizes (e.g. calls with varying batches)
                self._buffers.clear()
            self._buffers[n] = work
        return work

    def forward(self, Xa):
        """Currents of every layer for augmented inputs ``Xa`` (n, n_in + 1); returns the work
        buffers (``rates``: the augmented hidden rates, ``J``: the currents)."""
        work = self._work(Xa.shape[0])
        R = self._last_input = Xa
        last = len(self.blocks) - 1
        for i, A in enumerate(self.blocks):
            J = work["J"][i]
            np.matmul(R, A, out=J)
            if i < last:
                R = work["rates"][i]
                if self.relu:
                    np.maximum(J, 0, out=R[:, :-1])
                else:
                    R[:, :-1] = self.phi.rate(J)
        return work

    def direction(self, Xa, Tn, rule=None):
        """The rule's direction (negative gradient of the mean loss) into the gradient buffer.

        Parameters
        ----------
        Xa : ndarray, shape (n, n_in + 1)
            Inputs with the ones column.
        Tn : ndarray, shape (n, n_classes)
            One-hot targets divided by ``n``.
        rule : Backprop or FeedbackAlignment, optional
            How the error moves down (``W`` or the rule's fixed ``B``); default backprop
            (the caller passes the model's rule).
        """
        work = self.forward(Xa)
        e = self._output_error(work, Tn)
        feedback = rule.B if isinstance(rule, FeedbackAlignment) else None
        for i in range(len(self.blocks) - 1, -1, -1):
            below = Xa if i == 0 else work["rates"][i - 1]
            np.matmul(below.T, e, out=self.grad_blocks[i])
            if i == 0:
                break
            E = work["E"][i - 1]
            F = self.blocks[i][:-1].T if feedback is None else feedback[i]  # (n_post, n_pre)
            np.matmul(e, F, out=E)
            J = work["J"][i - 1]
            if self.relu:  # relu'(J) = [J > 0]
                mask = work["mask"][i - 1]
                np.greater(J, 0, out=mask)
                np.multiply(E, mask, out=E)
            else:
                E *= self.phi.derivative(J)
            e = E

    def _ones(self, m):
        ones = self._ones_col
        if ones is None or ones.shape[0] != m:
            ones = self._ones_col = np.ones((m, 1), dtype=self.dtype)
        return ones

    def _softmax(self, work, Z, col):
        """``Z <- exp(Z - shift)`` in place and its row sums into ``col`` (n, 1).

        Softmax is invariant to a shift of each row; shifting all rows by the batch's largest
        current is one fast reduction (the rows' own maxima are a slow one) and exact unless a
        row's largest current lies far below it: then its sum is tiny and the rows are shifted
        by their own maxima instead."""
        np.subtract(Z, np.maximum.reduce(Z, axis=None), out=Z)
        np.exp(Z, out=Z)
        np.matmul(Z, self._ones(Z.shape[1]), out=col)
        if not np.minimum.reduce(col, axis=None) >= ROW_SUM_FLOOR:
            self._softmax_by_rows(work, Z, col)

    def _softmax_by_rows(self, work, Z, col):
        """``exp(Z - max_row Z)`` and its row sums, the output currents recomputed."""
        R = work["rates"][-1] if len(self.blocks) > 1 else self._last_input
        np.matmul(R, self.blocks[-1], out=Z)
        np.subtract(Z, np.maximum.reduce(Z, axis=1, keepdims=True), out=Z)
        np.exp(Z, out=Z)
        np.add.reduce(Z, axis=1, keepdims=True, out=col)

    def _output_error(self, work, Tn):
        """``e = -dL/dJ_out`` (divided by the batch size) in the output current's buffer."""
        Z = work["J"][-1]
        if self.softmax:  # e = t/n - softmax(Z)/n, the softmax formed in place
            col = work["col"]
            self._softmax(work, Z, col)
            col *= Z.shape[0]
            np.divide(Z, col, out=Z)
            np.subtract(Tn, Z, out=Z)
            return Z
        e = Tn - self.output.rate(Z) / Z.shape[0]  # (t - r) / n
        if self.sigmoid:
            e *= self.output.derivative(Z)
        Z[...] = e
        return Z
