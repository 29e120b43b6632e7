"""Exports the newest automated RDS snapshot of one instance to S3.

Invoked daily by EventBridge Scheduler (terraform/modules/postgres). The
export bucket and its KMS key belong to terraform/bootstrap, so neither
`terraform destroy` of an environment nor the deletion of the database takes
the exports away. Idempotent: the export task id is derived from the
snapshot, so a second run for the same snapshot is a no-op. It must never
delete or modify a snapshot.
"""

import os

import boto3


def export_task_id(snapshot_id):
    """A valid, deterministic export task id for a snapshot id."""
    # Automated snapshot ids look like rds:<db>-2024-05-01-06-10; task ids
    # allow letters, digits and hyphens, at most 60 characters.
    cleaned = "".join(c if c.isalnum() else "-" for c in snapshot_id).strip("-")
    return ("export-" + cleaned)[:60].rstrip("-")


def newest_snapshot(snapshots):
    """The newest available snapshot, or None."""
    ready = [s for s in snapshots if s.get("Status") == "available"]
    return max(ready, key=lambda s: s["SnapshotCreateTime"], default=None)


def handler(event, context):
    rds = boto3.client("rds")
    db = os.environ["DB_INSTANCE_IDENTIFIER"]
    pages = rds.get_paginator("describe_db_snapshots").paginate(
        DBInstanceIdentifier=db, SnapshotType="automated"
    )
    snapshot = newest_snapshot([s for page in pages for s in page["DBSnapshots"]])
    if snapshot is None:
        return {"exported": None, "reason": "no available automated snapshot"}
    task_id = export_task_id(snapshot["DBSnapshotIdentifier"])
    try:
        rds.start_export_task(
            ExportTaskIdentifier=task_id,
            SourceArn=snapshot["DBSnapshotArn"],
            S3BucketName=os.environ["EXPORT_BUCKET"],
            S3Prefix=os.environ["EXPORT_PREFIX"],
            IamRoleArn=os.environ["EXPORT_ROLE_ARN"],
            KmsKeyId=os.environ["EXPORT_KMS_KEY_ARN"],
        )
    except rds.exceptions.ExportTaskAlreadyExistsFault:
        return {"exported": task_id, "already": True}
    return {"exported": task_id, "already": False}
