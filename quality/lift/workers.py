"""The lift's worker processes (joblib's reusable loky pool), released once a step is done with them."""


def release_worker_processes() -> None:
    """Stop the lift's idle worker processes now. joblib keeps them 300 s for reuse, and a Dagster step process
    that started them lingers (holding the run's next step back) until they stop: measured, 5 minutes between
    the lift step's success and the publication step's start under the multiprocess executor."""
    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor().shutdown(wait=True)
