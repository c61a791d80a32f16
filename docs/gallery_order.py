"""Order of the examples in the gallery (used by ``conf.py``)."""

#: Examples in reading order; any other example follows, by file name.
EXAMPLES = [
    "plot_quick_start.py",
    "plot_compare_baselines.py",
    "plot_sampler_grid.py",
    "plot_sampler_loss_grid.py",
    "plot_operating_point.py",
    "plot_learning_curves.py",
    "plot_ensemble_variance.py",
    "plot_custom_module.py",
]


class ExampleOrder:
    """Sort key for sphinx-gallery's ``within_subsection_order``."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        if filename in EXAMPLES:
            return (0, EXAMPLES.index(filename), "")
        return (1, 0, filename)

    def __repr__(self):
        return f"<{type(self).__name__}>"
