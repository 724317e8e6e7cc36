from .services import upload_process


def process_upload(*, upload_id: int) -> None:
    upload_process(upload_id=upload_id)
