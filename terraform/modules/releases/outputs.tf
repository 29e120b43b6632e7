output "bucket" {
  description = "Name of the releases bucket (OWP_RELEASES_BUCKET)."
  value       = aws_s3_bucket.this.id
}

output "bucket_arn" {
  description = "ARN of the releases bucket."
  value       = aws_s3_bucket.this.arn
}
