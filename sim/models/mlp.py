"""The rate-based backprop MLP, built from the shared populations and connections.

Its populations are steady-state (``tau = 0``): each layer's rate is ``phi(J)`` with
``J = W r_pre + b``, exactly the fixed point of the leaky integrator the Hebbian network
simulates. Training is backpropagation (or feedback alignment) through the same objects.
"""

from __future__ import annotations

import numpy as np

from sim.errors import ValidationError
from sim.learning.optimizers import get_optimizer, get_schedule
from sim.learning.rules import Backprop, FeedbackAlignment
from sim.models.dense_pass import DensePass
from sim.models.estimator import Estimator
from sim.models.input_gradient import input_gradient as model_input_gradient
from sim.models.mlp_params import LEARNING, OUTPUTS, PARAMETER_CONSTRAINTS, hidden_neuron, layer_sizes
from sim.models.stages import (
    check_weight_count,
    connection_kwargs,
    per_stage,
    stage_populations,
)
from sim.substrate import neurons
from sim.substrate.connections import Connection
from sim.substrate.implicit import settled_vjp
from sim.substrate.network import Network, Population
from sim.validation import check_choice, check_int, check_labels

__all__ = ["BackpropMLP"]



class BackpropMLP(Estimator):
    """Multilayer perceptron trained by backpropagation (or feedback alignment).

    Parameters
    ----------
    hidden : tuple of int
        Hidden layer sizes, e.g. ``(128,)`` or ``(100, 100)``; ``()`` gives a linear classifier.
    activation : str
        Hidden neuron type: 'relu', 'sigmoid', 'tanh', 'softplus', 'linear', 'relu^n'.
    output : {'softmax', 'linear', 'sigmoid'}
        Output neuron type. 'softmax' is trained with cross-entropy (nats); 'linear' and
        'sigmoid' with the squared error ``0.5 * sum_k (r_k - t_k)^2`` against one-hot targets,
        averaged over the batch.
    learning : {'backprop', 'feedback_alignment'}
        How the error reaches hidden layers (``W^T`` or fixed random matrices).
    optimizer : {'adam', 'sgd', 'momentum', 'nesterov'} or optimizer instance
        See `sim.learning.optimizers`.
    lr : float
        Base learning rate (> 0).
    lr_schedule : {'constant', 'step', 'linear'} or schedule instance
        Learning-rate schedule over epochs.
    batch_size : int
        Minibatch size; the last, smaller batch of an epoch is used too.
    weight_decay : float
        L2 coefficient ``lambda`` on weights (not biases): the loss gains ``lambda/2 ||W||^2``.
    init : str
        Weight initializer (`sim.substrate.connections.initializer_names()`); biases start at 0.
    w_inh : float in [0, 1) or tuple
        Uniform lateral inhibition inside each hidden stage (one value, or one per stage): unit
        ``i`` receives ``-w_inh sum_{j != i} r_j`` and the stage settles to its fixed point (the
        k-WTA code for ReLU units, in closed form). 0: the steady state ``r = phi(J)``, an
        ordinary MLP layer. Backprop and feedback alignment pass the error through the settled
        state's Jacobian (`sim.substrate.implicit.settled_vjp`).
    tau, dt, settle, settle_tol, max_steps
        Dynamics of inhibited stages (`sim.models.stages`): membrane time constant and step
        (ms), 'auto' (closed form where it exists) or 'dynamics' (always integrate), the
        tolerance and step cap of the integration. Where the closed form is used, ``tau`` and
        ``dt`` do not change the settled code.
    dale, p_connect, bounds, max_norm
        Constraints of the connections into the hidden stages (`sim.substrate.connections.
        Connection`): excitatory fraction of each stage's presynaptic units (Dale's law),
        connection probability of a fixed mask, ``(lo, hi)`` weight bounds, a row-norm ceiling;
        re-imposed after every optimizer step. The readout connection is unconstrained.
    freeze_hidden_after : int, optional
        Epochs after which the hidden stages stop learning and only the readout does (counted
        over ``fit`` and ``partial_fit``): e.g. the first phase of sequential learning, giving the
        frozen-hidden-layer control. None: never.
    early_stopping : bool
        Stop when the validation accuracy has not improved by more than ``tol`` for
        ``n_iter_no_change`` epochs, and keep the weights of the best validation epoch
        (scikit-learn's rule; `sim.models.early_stopping`). Needs a validation split.
    n_iter_no_change : int >= 1
    tol : float >= 0
        Improvement of the validation accuracy (a fraction) that counts.
    eval_every : int >= 0
        Epochs between evaluations of the train / validation / test metrics (and the last
        epoch of every ``fit`` call always; 0: only then). Unevaluated epochs record NaN.
    validation_fraction : float in [0, 1), optional
        With array input (``fit(X, y)``): share of the rows held out, stratified and seeded, as
        the validation split; None: 0.1 with ``early_stopping``, else none. A Task brings its own.
    epochs : int >= 1
        Epochs of ``fit`` (``fit(..., epochs=N)`` overrides it for one call).
    warm_start : bool
        ``fit`` on a fitted model continues its run (as `partial_fit` with ``epochs``).
    verbose : int >= 0
        0 silent; 1 one line per epoch (loss, accuracy, validation metrics, seconds).
    dtype : {'float32', 'float64'}
    seed : int
        Root seed: weights, data order and any noise come from independent streams of it.
    """

    model_name = "backprop"

    def __init__(self, hidden=(128,), activation="relu", output="softmax", learning="backprop",
                 optimizer="adam", lr=1e-3, lr_schedule="constant", batch_size=32, weight_decay=0.0,
                 init="glorot_uniform", w_inh=0.0, tau=10.0, dt=None, settle="auto", settle_tol=1e-6,
                 max_steps=500, dale=None, p_connect=1.0, bounds=None, max_norm=None, freeze_hidden_after=None,
                 early_stopping=False, validation_fraction=None, n_iter_no_change=10, tol=1e-4, eval_every=1,
                 epochs=10, warm_start=False, verbose=0, dtype="float32", seed=0):
        self.hidden = hidden
        self.activation = activation
        self.output = output
        self.learning = learning
        self.optimizer = optimizer
        self.lr = lr
        self.lr_schedule = lr_schedule
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.init = init
        self.w_inh = w_inh
        self.tau = tau
        self.dt = dt
        self.settle = settle
        self.settle_tol = settle_tol
        self.max_steps = max_steps
        self.dale = dale
        self.p_connect = p_connect
        self.bounds = bounds
        self.max_norm = max_norm
        self.freeze_hidden_after = freeze_hidden_after
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.eval_every = eval_every
        self.epochs = epochs
        self.warm_start = warm_start
        self.verbose = verbose
        self.dtype = dtype
        self.seed = seed

    parameter_constraints = PARAMETER_CONSTRAINTS

    # ----- set-up -----------------------------------------------------------------------
    def _check_params(self):
        sizes = layer_sizes(self.hidden)
        check_weight_count("hidden", sizes)
        per_stage("w_inh", self.w_inh, len(sizes))

    def _lr_schedule(self):
        return self._schedule

    def _initialize(self, n_features, n_classes, rng):
        dtype = self._dtype()
        self._sizes = layer_sizes(self.hidden)
        self._phi = hidden_neuron(self.activation)
        out = self.output.lower()
        w_inh = per_stage("w_inh", self.w_inh, len(self._sizes))
        pops = ([Population(n_features, "linear")] + stage_populations(self, self._sizes, self._phi, w_inh)
                + [Population(n_classes, out)])
        constraints = connection_kwargs(self)
        conns = [Connection(pre.n, post.n, rng=rng, init=self.init.lower(), dtype=dtype,
                            **(constraints if i < len(self._sizes) else {}))
                 for i, (pre, post) in enumerate(zip(pops[:-1], pops[1:]))]
        self.network_ = Network(pops, rng=rng, dtype=dtype, connections=conns)
        self._inhibited = [not (w == 0) for w in w_inh]  # stages whose rate is not phi(J)
        self._constrained = self.network_.connections[:-1] if constraints else []
        self._loss_name = OUTPUTS[out]
        self._out = neurons.get(out)
        self._out_sigmoid = out == "sigmoid"
        self._relu_hidden = isinstance(self._phi, neurons.ReLU)
        self._rule = LEARNING[self.learning.lower()]()
        self._rule.reset([c.W for c in self.network_.connections], rng)
        self._schedule = get_schedule(self.lr_schedule, "lr_schedule")
        self._optimizer = get_optimizer(self.optimizer)
        self._bind_flat()
        self._optimizer.reset(self._params)

    def __setstate__(self, state):
        # unpickling copies the flat parameter buffer and its views (the weights, the training
        # pass's blocks) apart, possibly read-only: bind fresh views again
        self.__dict__.update(state)
        if "_params" in state:
            self._bind_flat()

    def _bind_flat(self):
        """Put every W and b into one flat buffer (views), so an optimizer step is one call."""
        conns = self.network_.connections
        sizes = [n for c in conns for n in (c.W.size, c.b.size)]
        self._params = np.empty(sum(sizes), dtype=self._dtype())
        self._grad = np.zeros_like(self._params)
        self._decay = np.zeros_like(self._params)  # weight-decay mask: 1 on weights, 0 on biases
        self._Ws, self._bs, self._dWs, self._dbs = [], [], [], []
        blocks, grad_blocks = [], []
        offset = 0
        for c in conns:
            self._decay[offset:offset + c.W.size] = 1
            # W (column-major) then b is one C-contiguous block [W^T; b] (`sim.models.dense_pass`)
            end = offset + c.W.size + c.b.size
            blocks.append(self._params[offset:end].reshape(c.W.shape[1] + 1, c.W.shape[0]))
            grad_blocks.append(self._grad[offset:end].reshape(blocks[-1].shape))
            for arr, views, dviews in ((c.W, self._Ws, self._dWs), (c.b, self._bs, self._dbs)):
                # W is stored column-major: W.T is then C-contiguous and X @ W.T takes BLAS's
                # fast path (about twice as fast for these small matrices)
                view = self._params[offset:offset + arr.size].reshape(arr.shape, order="F")
                view[...] = arr
                views.append(view)
                dviews.append(self._grad[offset:offset + arr.size].reshape(arr.shape, order="F"))
                offset += arr.size
            c.share_memory(self._Ws[-1], self._bs[-1])
        self._n_hidden = offset - conns[-1].W.size - conns[-1].b.size  # the hidden stages' share of the buffer
        self._dense = None if any(self._inhibited) else DensePass(
            blocks, grad_blocks, self._phi, self._relu_hidden, self._out, self._loss_name == "cross_entropy",
            self._out_sigmoid, self._rule)
        self._wd_tmp = np.empty_like(self._params)  # weight decay's work buffer

    # ----- training ---------------------------------------------------------------------
    def _train_epoch(self, X, y, rng, lr_factor):
        order = rng.permutation(X.shape[0])
        bs, dense = self.batch_size, self._dense
        if dense is not None:  # one gather per epoch into preallocated buffers; batches are views
            dense.begin_epoch(X, self._targets(y), order, bs)
        else:
            X, T = X[order], self._targets(y)[order]
        lr = self.lr * lr_factor
        wd = self.weight_decay
        after = self.freeze_hidden_after
        frozen = self._params[:self._n_hidden] if after is not None and self.epochs_done_ >= after else None
        kept = None if frozen is None else frozen.copy()
        for start in range(0, X.shape[0], bs):
            if dense is not None:
                dense.batch(start, start + bs)
            else:
                self._gradient(X[start:start + bs], T[start:start + bs])
            if wd:
                np.multiply(self._params, self._decay, out=self._wd_tmp)
                self._wd_tmp *= wd
                self._grad -= self._wd_tmp
            self._optimizer.step(self._params, self._grad, lr)
            if frozen is not None:
                frozen[...] = kept  # the hidden stages keep their weights: only the readout learns
            for conn in self._constrained:
                conn.constrain()
        return {} if after is None else {"phase": "readout" if frozen is not None else "all"}

    def _targets(self, y):
        T = np.zeros((y.shape[0], self.n_classes_), dtype=self._dtype())
        T[np.arange(y.shape[0]), y] = 1
        return T

    def _forward(self, X):
        """Rates ``[X, r_1, ..., r_L]`` and settled potentials ``[v_1, ..., v_L]`` (``v = J`` for
        a stage without inhibition; for the output ``v`` is its current). An inhibited stage is
        settled by the network (`Network.steady_state`), so this is ``network_.forward``."""
        rates, potentials = [X], []
        last = len(self._Ws) - 1
        for i, (W, b) in enumerate(zip(self._Ws, self._bs)):
            J = rates[-1] @ W.T
            J += b
            if i == last:
                potentials.append(J)
                rates.append(self._out.rate(J))
            elif self._inhibited[i]:
                v, r, _ = self.network_.steady_state(i, J)
                potentials.append(v)
                rates.append(r)
            else:
                potentials.append(J)
                rates.append(np.maximum(J, 0) if self._relu_hidden else self._phi.rate(J))
        return rates, potentials

    def _output_error(self, r_out, J_out, T):
        """The delta rule's error at the output: ``-dL/dJ``, divided by the batch size."""
        e = T - r_out
        if self._out_sigmoid:
            e *= self._out.derivative(J_out)
        e /= T.shape[0]
        return e

    def _gradient(self, X, T, rule=None):
        """Write the update direction (negative gradient of the mean loss) into ``self._grad``.

        With ``e_l = -dL/dJ_l`` (divided by the batch size), the rule gives ``dW_l = e_l^T r_{l-1}``
        and ``db_l = sum_batch e_l``; the error moves down as ``e_{l-1} = (e_l W_l) * phi'(J_{l-1})``
        for backprop, with the fixed feedback matrix in place of ``W_l`` for feedback alignment.
        Through an inhibited stage ``* phi'(J)`` becomes the settled state's vector-Jacobian
        product (`sim.substrate.implicit.settled_vjp`; the active-set Jacobian for ReLU).
        ``rule`` replaces the model's own learning rule for this call. Without inhibited stages
        this is `sim.models.dense_pass.DensePass` (same numbers up to rounding).
        """
        rule = self._rule if rule is None else rule
        if self._dense is not None:
            return self._dense.direction_of(X, T, rule)
        rates, potentials = self._forward(X)
        error = self._output_error(rates[-1], potentials[-1], T)
        relu = self._relu_hidden
        for i in range(len(self._Ws) - 1, -1, -1):
            rule.delta(rates[i], rates[i + 1], self._Ws[i], error, out=self._dWs[i])
            rule.delta_bias(rates[i + 1], error, out=self._dbs[i])
            if i:
                error = rule.propagate(error, self._Ws[i], i)
                if self._inhibited[i - 1]:
                    pop = self.network_.populations[i]
                    error = settled_vjp(potentials[i - 1], error, self._phi, pop.w_inh).astype(error.dtype)
                elif relu:  # relu'(J) = [J > 0] = [r > 0]
                    np.multiply(error, rates[i] > 0, out=error)
                else:
                    error *= self._phi.derivative(potentials[i - 1])

    def _loss(self, P, y):
        idx = np.arange(y.shape[0])
        if self._loss_name == "cross_entropy":
            return float(-np.mean(np.log(np.maximum(P[idx, y].astype(np.float64), 1e-300))))
        T = self._targets(y)
        return float(0.5 * np.mean(np.sum((P.astype(np.float64) - T) ** 2, axis=1)))

    def _weights(self):
        return self._Ws

    def layer_directions(self, X, y, learning: str | None = None) -> list[np.ndarray]:
        """The weight update direction of every layer on batch ``X, y`` (float64 copies, shapes of
        the weights), by the model's own learning rule or by ``learning`` ('backprop',
        'feedback_alignment': a feedback-alignment model keeps its own feedback matrices).
        The weights are not changed."""
        X = self._check_X(X)
        T = self._targets(check_labels("y", y, self.n_classes_, n_samples=X.shape[0]))
        rule = None
        if learning is not None and check_choice("learning", learning, LEARNING) != self.learning.lower():
            if learning.lower() != "backprop":
                raise ValidationError("learning", learning, "needs a model trained by feedback alignment "
                                      "(it has the feedback matrices)")
            rule = Backprop()
        self._gradient(X, T, rule)
        directions = [d.astype(np.float64) for d in self._dWs]
        self._grad[...] = 0
        return directions

    input_gradient = model_input_gradient  # dL_i/dx_i, (n, n_features): sim.models.input_gradient

    # ----- prediction -------------------------------------------------------------------
    def _proba(self, X):
        return self._forward(X)[0][-1] if self._dense is None else self._dense.proba(X)

    def _hidden_rates(self, X, layer: int = -1) -> np.ndarray:
        """Hidden rates of layer ``layer`` (index into ``hidden``; -1 = last), shape (n, size)."""
        n_hidden = len(self._sizes)
        if n_hidden == 0:
            raise ValidationError("layer", layer, "this network has no hidden layer")
        check_int("layer", layer, low=-n_hidden, high=n_hidden - 1)
        return self._forward(X)[0][1:-1][layer]

    # ----- persistence ------------------------------------------------------------------
    def _get_state(self):
        state = {"params": self._params}
        for key, value in self._optimizer.state().items():
            state[f"opt_{key}"] = value
        for i, B in enumerate(getattr(self._rule, "B", [])):
            state[f"feedback_{i}"] = B
        return state

    def _set_state(self, arrays):
        self._initialize(self.n_features_in_, self.n_classes_, np.random.default_rng(0))
        self._params[...] = arrays["params"]
        self._optimizer.set_state({k[4:]: v for k, v in arrays.items() if k.startswith("opt_")})
        if isinstance(self._rule, FeedbackAlignment):
            self._rule.B = [arrays[f"feedback_{i}"] for i in range(len(self._Ws))]

